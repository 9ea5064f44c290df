/* cityhub error codes: every fallible function returns HUB_OK or a negative HUB_E* code. */
#ifndef CITYHUB_ERROR_H
#define CITYHUB_ERROR_H

enum hub_err {
	HUB_OK = 0,
	HUB_EINVAL = -1,   /* bad argument or malformed input */
	HUB_ENOMEM = -2,   /* a bounded buffer or limit is exhausted */
	HUB_EIO = -3,      /* an operating-system call failed; errno holds why */
	HUB_ERANGE = -4,   /* a number is outside its allowed range */
	HUB_EPARSE = -5,   /* text could not be parsed */
	HUB_ENOENT = -6,   /* the thing looked up does not exist */
	HUB_EAGAIN = -7,   /* nothing available yet; try again later */
	HUB_EFULL = -8,    /* storage limit reached */
	HUB_ECORRUPT = -9, /* stored data failed its integrity check */
	HUB_ESTOP = -10,   /* the component was asked to stop */
	HUB_EAUTH = -11,   /* the peer refused our credentials */
	HUB_EREJECT = -12, /* a message was rejected; see the reject reason */
};

/* Returns a static, human-readable description of a HUB_E* code (never NULL). */
const char *hub_strerror(int err);

#endif
