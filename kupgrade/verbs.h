/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* TRANSITIONAL: to be removed once no domain file includes it. */
#include "exit-status.h"
#include "cli/args.h"
#include "cli/verbs.h"
