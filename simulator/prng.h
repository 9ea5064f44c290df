/* Deterministic pseudo-random numbers: xoshiro256** seeded through splitmix64. Never rand(). */
#ifndef SIM_PRNG_H
#define SIM_PRNG_H

#include <stdint.h>

struct sim_rng {
	uint64_t s[4];
};

/* Seeds r from a run seed and a stream number; equal inputs give equal sequences. */
void sim_rng_seed(struct sim_rng *r, uint64_t seed, uint64_t stream);
/* Returns the next 64 random bits. */
uint64_t sim_rng_next(struct sim_rng *r);
/* Returns a double uniform in [0, 1). */
double sim_rng_uniform(struct sim_rng *r);
/* Returns a double uniform in [lo, hi). */
double sim_rng_range(struct sim_rng *r, double lo, double hi);
/* Returns an integer uniform in [0, n); 0 when n is 0. */
uint64_t sim_rng_below(struct sim_rng *r, uint64_t n);
/* Returns 1 with probability p (p <= 0 never, p >= 1 always). */
int sim_rng_chance(struct sim_rng *r, double p);
/* Returns a standard normal deviate (mean 0, deviation 1). */
double sim_rng_normal(struct sim_rng *r);
/* Returns an exponential deviate with the given mean. */
double sim_rng_exp(struct sim_rng *r, double mean);
/* Returns a Poisson-distributed count with the given mean (>= 0). */
int64_t sim_rng_poisson(struct sim_rng *r, double mean);
/* Returns the 64-bit FNV-1a hash of a NUL-terminated string. */
uint64_t sim_hash_str(const char *s);
/* Mixes a 64-bit value (the splitmix64 finaliser). */
uint64_t sim_hash_mix(uint64_t x);

#endif
