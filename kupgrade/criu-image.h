/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

/*
 * Edits of CRIU's images after a dump (images/criu-image.proto says why).
 *
 * In the images of one tree (dir_fd), the listening socket (TCP, or unix
 * stream) with inode ino becomes a socket CRIU takes at restore from
 * --inherit-fd "socket:[ino]", instead of one it creates and binds itself
 * (and for a unix socket, whose path it unlinks first). Every fd of every
 * process that held it follows. 0; -ENOENT when the images hold no such
 * socket; -EINVAL when it is not a listening stream socket; -EBADMSG for an
 * image kupgrade cannot read. Each file is replaced whole (rename).
 */
int criu_image_inherit_listen_socket(int dir_fd, uint64_t ino);

#define CRIU_IMG_COMMON_MAGIC 0x54564319u
#define CRIU_IMG_FILES_MAGIC 0x56303138u
#define CRIU_IMG_FDINFO_MAGIC 0x56213732u
