/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "manifest.h"

/*
 * A service comes back through its own unit, so that systemd keeps owning
 * it: a runtime drop-in makes its start run "kupgrade restore-unit", which
 * restores its trees as our child (born in the service's cgroup), writes the
 * PID file systemd takes its main process from, and a result file that
 * "kupgrade restore" collects. After a switch kupgrade-generator writes the
 * drop-ins and systemd orders the starts by the services' own dependencies;
 * on the boot that dumped them (a rollback, "kupgrade restore") the restore
 * starts each service itself.
 */

/* A service kupgrade restores through its unit (and not one the plan
 * restarted). */
bool manifest_unit_restores_through_unit(const ManifestUnit *u);

/* The drop-in in dir (the generator's directory, or RUNTIME_UNIT_DIR) whose
 * start restores unit from the images in images; removing it is fine when it
 * is not there (the caller reloads). */
int restore_service_write_dropin(const char *dir, const char *unit, const char *images);
int restore_service_remove_dropin(const char *dir, const char *unit);

/* "kupgrade restore-unit --from DIR UNIT": the ExecStart= of the drop-in.
 * from NULL: the images a switch left. */
int restore_unit_run(const char *from, const char *unit);

/* The outcome each service's restore reported, waiting (bounded) for those
 * that did not yet; returns how many failed. */
unsigned restore_services_collect(Manifest *m);

/* Every service that could not be restored is started fresh, and says so. */
void restore_services_start_fresh(Manifest *m);

/* A service on the boot that dumped it, through its own unit's start; on
 * failure it is started fresh. images: the images root. */
int restore_service_through_unit(const char *images, ManifestUnit *u);
