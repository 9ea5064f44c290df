/* The sensor registry the hub reads (live.registry): one CSV line per sensor of a scenario,
 * with its position and readable names, so that the operations room shows names and sees a
 * sensor that never reported as missing. Format in docs/simulator.md. */
#ifndef SIM_REGISTRY_H
#define SIM_REGISTRY_H

#include "scenario.h"

#include <stdio.h>

/* Writes the header `id,kind,district,lat,lon,name_vi,name_en,interval_s` and one line per
 * sensor of sc that publishes (those `only:` leaves out are not deployed), fields quoted as
 * RFC 4180 says when they hold a comma, a quote or a line break. HUB_OK, or HUB_EIO. */
int sim_registry_write(const struct sim_scenario *sc, FILE *out);

#endif
