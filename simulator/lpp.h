/* Cayenne LPP frames: [channel][type][big-endian value] repeated. */
#ifndef SIM_LPP_H
#define SIM_LPP_H

#include "cityhub/buf.h"
#include "kind.h"
#include "model.h"

/* Returns 1 when v can be sent as LPP type t (after the type's scaling). */
int sim_lpp_fits(enum sim_lpp_type t, double v);

/* Appends one value to out; HUB_ERANGE (nothing appended) when it does not fit, HUB_EINVAL
 * for SIM_LPP_NONE. Humidity is given as a fraction 0..1. */
int sim_lpp_add(struct hub_buf *out, unsigned channel, enum sim_lpp_type t, double v);

/* Appends every present LPP-encodable field of r (channel = field index + 1). */
int sim_lpp_encode(const struct sim_reading *r, struct hub_buf *out);

/* Returns the size in bytes of one value of type t (0 for SIM_LPP_NONE). */
int sim_lpp_size(enum sim_lpp_type t);

#endif
