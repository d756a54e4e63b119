/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "paths.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manifest.pb-c.h"

/*
 * The manifest next to the CRIU images (images/manifest.proto). On disk:
 * a 4-byte magic "KUPG", a 4-byte little-endian length, then the packed
 * message, which repeats the magic and carries the format version. Packing
 * and unpacking are pure; reading and writing go through a directory fd.
 */

#define MANIFEST_MAGIC 0x4b555047U /* "KUPG" */
#define MANIFEST_FORMAT_VERSION 2U

typedef Kupgrade__Manifest Manifest;
typedef Kupgrade__UnitEntry ManifestUnit;
typedef Kupgrade__UnitKind ManifestUnitKind;
#define MANIFEST_UNIT_SERVICE KUPGRADE__UNIT_KIND__KIND_SERVICE
#define MANIFEST_UNIT_SESSION KUPGRADE__UNIT_KIND__KIND_SESSION
#define MANIFEST_UNIT_CONTAINER KUPGRADE__UNIT_KIND__KIND_CONTAINER
#define MANIFEST_UNIT_SCOPE KUPGRADE__UNIT_KIND__KIND_SCOPE
#define MANIFEST_UNIT_SLICE KUPGRADE__UNIT_KIND__KIND_SLICE

/* Building: every part is malloc'd, so manifest_free() frees built and
 * unpacked manifests alike. */
Manifest *manifest_new(const char *boot_id, const char *kernel_from);
int manifest_unit_add_carried(ManifestUnit *u, const char *path, const char *image, uint32_t mode,
			      uint32_t uid, uint32_t gid);
/* A unit listed only to report that the plan restarts it: nothing to restore. */
bool manifest_unit_planned_restart(const ManifestUnit *u);
/* kind is recorded as the enum the code decides by and as text for people. */
ManifestUnit *manifest_add_unit(Manifest *m, const char *name, ManifestUnitKind kind,
				const char *image_dir);
const char *manifest_unit_kind_to_string(ManifestUnitKind k);
/* "service" -> MANIFEST_UNIT_SERVICE, ...; KUPGRADE__UNIT_KIND__KIND_UNKNOWN otherwise. */
ManifestUnitKind manifest_unit_kind_from_string(const char *s);
int manifest_unit_add_root(ManifestUnit *u, uint32_t pid);
void manifest_unit_remove_root(ManifestUnit *u, uint32_t pid);
int manifest_unit_add_restored_pid(ManifestUnit *u, uint32_t pid);
int manifest_unit_add_connection(ManifestUnit *u, uint32_t family, const char *src, uint32_t sport,
				 const char *dst, uint32_t dport);
int manifest_unit_add_external(ManifestUnit *u, const char *key, const char *path, uint32_t mode,
			       uint32_t pid, uint32_t fd);
int manifest_unit_add_timing(ManifestUnit *u, const char *phase, uint64_t usec);
int manifest_add_timing(Manifest *m, const char *phase, uint64_t usec);
int manifest_set_string(char **field, const char *value);
void manifest_free(Manifest *m);

/* Pure encoding: *ret is malloc'd, header included. */
int manifest_pack(const Manifest *m, uint8_t **ret, size_t *ret_size);
/* -EBADMSG for anything that is not a well-formed manifest of a version
 * we read, or that holds a string manifest_check() refuses; *ret_reason
 * says what, for the message. */
int manifest_unpack(const uint8_t *buf, size_t size, Manifest **ret, const char **ret_reason);

/*
 * The manifest is untrusted input (it crosses a kexec on disk or in an
 * initrd): every string that becomes a file name, a unit name or unit text,
 * an nft script or a CRIU key is checked. Unit names are systemd unit names
 * (a slice's processes outside any unit: a cgroup path), paths inside the
 * images are relative without "..", other paths absolute and normalised,
 * nothing has control characters, addresses parse as IP addresses, ports
 * are 1..65535, the lock table is kupgrade's. -EBADMSG and *ret_reason
 * (valid until the next check) naming the field. manifest_unpack() runs
 * manifest_check(); the checkpoint runs manifest_check_unit() before a
 * unit's dump, so that it never writes what a reader refuses.
 */
int manifest_check(const Manifest *m, const char **ret_reason);
int manifest_check_unit(const ManifestUnit *u, const char **ret_reason);
/* systemd's unit_name_is_valid() for a plain or instance name. */
bool manifest_unit_name_valid(const char *name);

/* File I/O: atomic write (temporary file, fsync, rename) of dir_fd/manifest. */
int manifest_write_at(int dir_fd, const Manifest *m);
int manifest_read_file(const char *path, Manifest **ret);

const char *manifest_outcome_to_string(Kupgrade__UnitOutcome o);
