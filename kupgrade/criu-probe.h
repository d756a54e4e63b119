/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The preflight's CRIU probe: "criu check" through libcriu. Kept apart from
 * criu.c (written in parallel) only until the merge: fold it into criu.c,
 * the one file that knows libcriu.
 */

/* 0 when CRIU's required checks pass through libcriu, 1 when libcriu's
 * CHECK request failed but "criu check" on the command line passes (CRIU
 * 3.17.1's swrk crashes on CHECK); else -errno and a reason for people in
 * *ret_error (allocated). */
int criu_probe(char **ret_error);
