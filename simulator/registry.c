#include "registry.h"

#include "cityhub/error.h"
#include "kind.h"

#include <string.h>

/* One CSV field: as is, or double-quoted with inner quotes doubled. */
static void field(FILE *out, const char *s)
{
	if (!s)
		s = "";
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

int sim_registry_write(const struct sim_scenario *sc, FILE *out)
{
	fputs("id,kind,district,lat,lon,name_vi,name_en,interval_s\n", out);
	for (int i = 0; i < sc->nsensors; i++) {
		const struct sim_sensor *s = &sc->sensors[i];
		if (s->quiet)
			continue;
		field(out, s->id);
		fprintf(out, ",%s,", sim_kind_def(s->kind)->name);
		field(out, s->district);
		fprintf(out, ",%.6f,%.6f,", s->lat, s->lon);
		field(out, s->name_vi ? s->name_vi : s->id);
		fputc(',', out);
		field(out, s->name_en ? s->name_en : s->id);
		fprintf(out, ",%d\n", s->interval_s);
	}
	return fflush(out) == 0 && !ferror(out) ? HUB_OK : HUB_EIO;
}
