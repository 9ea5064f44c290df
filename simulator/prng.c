#include "prng.h"

#include <math.h>

uint64_t sim_hash_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t splitmix_next(uint64_t *state)
{
	*state += 0x9e3779b97f4a7c15ULL;
	return sim_hash_mix(*state);
}

void sim_rng_seed(struct sim_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t st = seed ^ sim_hash_mix(stream + 0x632be59bd9b4e019ULL);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix_next(&st);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_next(struct sim_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double sim_rng_uniform(struct sim_rng *r)
{
	return (double)(sim_rng_next(r) >> 11) * 0x1.0p-53;
}

double sim_rng_range(struct sim_rng *r, double lo, double hi)
{
	return lo + (hi - lo) * sim_rng_uniform(r);
}

uint64_t sim_rng_below(struct sim_rng *r, uint64_t n)
{
	if (n == 0)
		return 0;
	/* Rejection keeps the result unbiased for any n. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do {
		x = sim_rng_next(r);
	} while (x >= limit);
	return x % n;
}

int sim_rng_chance(struct sim_rng *r, double p)
{
	if (p <= 0)
		return 0;
	if (p >= 1)
		return 1;
	return sim_rng_uniform(r) < p;
}

double sim_rng_normal(struct sim_rng *r)
{
	/* Box-Muller without a cached second value, so the stream position stays simple. */
	double u1 = 1.0 - sim_rng_uniform(r);
	double u2 = sim_rng_uniform(r);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double sim_rng_exp(struct sim_rng *r, double mean)
{
	return -mean * log(1.0 - sim_rng_uniform(r));
}

int64_t sim_rng_poisson(struct sim_rng *r, double mean)
{
	if (mean <= 0)
		return 0;
	if (mean > 40) {
		double x = mean + sqrt(mean) * sim_rng_normal(r);
		return x < 0 ? 0 : (int64_t)llround(x);
	}
	double limit = exp(-mean), p = 1.0;
	int64_t k = -1;
	do {
		k++;
		p *= sim_rng_uniform(r);
	} while (p > limit);
	return k;
}

uint64_t sim_hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}
