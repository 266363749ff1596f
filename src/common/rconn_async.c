/* rconn_async.c -- the async connection of rconn.h on a libuv loop. */
#include "common/rconn_int.h"
