/* rhai/rhai.h -- everything public of librhai-client. */
#ifndef RHAI_RHAI_H
#define RHAI_RHAI_H
#include "rhai/version.h"
#include "rhai/error.h"
#include "rhai/client.h"
#include "rhai/async.h"
#include "rhai/log.h"
#include "rhai/cron.h"
#include "rhai/events.h"
#endif
