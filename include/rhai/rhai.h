/* rhai/rhai.h -- everything public of librhai-client. */
#ifndef RHAI_RHAI_H
#define RHAI_RHAI_H
#include "version.h"
#include "error.h"
#include "client.h"
#include "async.h"
#endif
