/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "manifest.h"

/* A manifest for people (text) and for tools (one JSON object, stable keys). */
void inspect_print_text(FILE *f, const Manifest *m);
int inspect_print_json(FILE *f, const Manifest *m);
/* "kupgrade inspect": the manifest of an images directory (or the manifest
 * file itself) on stdout, as text or (json) one JSON document. */
int inspect_path(const char *path, bool json);
