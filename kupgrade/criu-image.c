/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "criu-image.h"
#include "criu-image.pb-c.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"

/*
 * A CRIU image file: two magics (the common one, then the image's own),
 * then entries, each a little-endian u32 length and a protobuf message.
 */
struct img {
	uint8_t *data;
	size_t size;
};

static void img_done(struct img *i)
{
	free(i->data);
	*i = (struct img){ 0 };
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int img_append(struct img *i, const void *p, size_t n)
{
	if (!GREEDY_REALLOC(i->data, i->size + n))
		return -ENOMEM;
	memcpy(i->data + i->size, p, n);
	i->size += n;
	return 0;
}

static int img_append_entry(struct img *i, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t len[4] = { n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >> 24) & 0xff };

	if (img_append(i, len, sizeof(len)) < 0)
		return -ENOMEM;
	if (!GREEDY_REALLOC(i->data, i->size + n))
		return -ENOMEM;
	i->size += protobuf_c_message_pack(m, i->data + i->size);
	return 0;
}

static int img_read(int dir_fd, const char *name, uint32_t magic, struct img *ret)
{
	_cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (st.st_size < 8 || st.st_size > (64 << 20))
		return -EBADMSG;
	*ret = (struct img){ malloc((size_t)st.st_size), (size_t)st.st_size };
	if (!ret->data)
		return -ENOMEM;
	n = pread(fd, ret->data, ret->size, 0);
	if (n != (ssize_t)ret->size || get_le32(ret->data) != CRIU_IMG_COMMON_MAGIC ||
	    get_le32(ret->data + 4) != magic) {
		img_done(ret);
		return n < 0 ? negative_errno() : -EBADMSG;
	}
	return 0;
}

/* The next entry at *off: its bytes in [*start, *start + *len). 0 at the end. */
static int img_next(const struct img *i, size_t *off, const uint8_t **start, size_t *len)
{
	if (*off == i->size)
		return 0;
	if (i->size - *off < 4)
		return -EBADMSG;
	*len = get_le32(i->data + *off);
	if (*len > i->size - *off - 4)
		return -EBADMSG;
	*start = i->data + *off + 4;
	*off += 4 + *len;
	return 1;
}

static int img_write(int dir_fd, const char *name, const struct img *i)
{
	char tmp[300];
	_cleanup_close_ int fd = -EBADF;

	snprintf(tmp, sizeof(tmp), ".%s.kupgrade", name);
	fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return negative_errno();
	if (write(fd, i->data, i->size) != (ssize_t)i->size ||
	    renameat(dir_fd, tmp, dir_fd, name) < 0) {
		int r = negative_errno();

		(void)unlinkat(dir_fd, tmp, 0);
		return r;
	}
	return 0;
}

/*
 * The entry that stands for listening socket ino once it is inherited: a
 * unix socket entry without a name (CRIU unlinks and binds a named one)
 * or peer, and what CRIU applies to any fd (flags, owner, options) from the
 * original. 1 when fe is another file; -EINVAL when it is that socket but
 * not listening.
 */
static int placeholder(const Criuimg__FileEntry *fe, uint64_t ino, Criuimg__UnixSkEntry *ret)
{
	const Criuimg__InetSkEntry *i = fe->isk;
	const Criuimg__UnixSkEntry *u = fe->usk;

	if (fe->type == CRIUIMG__FD_TYPE__FD_INETSK && i && i->ino == ino) {
		if (i->state != TCP_LISTEN || i->type != SOCK_STREAM || !i->has_fown ||
		    !i->has_opts)
			return -EINVAL;
		*ret = (Criuimg__UnixSkEntry)CRIUIMG__UNIX_SK_ENTRY__INIT;
		ret->flags = i->flags;
		ret->backlog = i->backlog;
		ret->fown = i->fown;
		ret->opts = i->opts;
	} else if (fe->type == CRIUIMG__FD_TYPE__FD_UNIXSK && u && u->ino == ino) {
		if (u->state != TCP_LISTEN || u->type != SOCK_STREAM)
			return -EINVAL;
		*ret = (Criuimg__UnixSkEntry)CRIUIMG__UNIX_SK_ENTRY__INIT;
		ret->flags = u->flags;
		ret->backlog = u->backlog;
		ret->fown = u->fown;
		ret->opts = u->opts;
	} else
		return 1;
	ret->id = fe->id;
	ret->ino = (uint32_t)ino;
	ret->type = SOCK_STREAM;
	ret->state = TCP_LISTEN;
	return 0;
}

/* files.img with the listening socket's entry rewritten, in *ret_out (not
 * written yet); its file id in *ret_id. */
static int rewrite_files(int dir_fd, uint64_t ino, uint32_t *ret_id, struct img *ret_out)
{
	struct img in = { 0 }, out = { 0 };
	const uint8_t *p;
	size_t off = 8, len;
	bool found = false;
	int r, k;

	r = img_read(dir_fd, "files.img", CRIU_IMG_FILES_MAGIC, &in);
	if (r < 0)
		return r;
	r = img_append(&out, in.data, 8);
	while (r >= 0 && (k = img_next(&in, &off, &p, &len)) > 0) {
		Criuimg__FileEntry *fe = criuimg__file_entry__unpack(NULL, len, p);
		Criuimg__UnixSkEntry usk = CRIUIMG__UNIX_SK_ENTRY__INIT;
		Criuimg__FileEntry nfe = CRIUIMG__FILE_ENTRY__INIT;

		if (!fe) {
			r = -EBADMSG;
			break;
		}
		r = placeholder(fe, ino, &usk);
		if (r == 0) {
			nfe.type = CRIUIMG__FD_TYPE__FD_UNIXSK;
			nfe.id = fe->id;
			nfe.usk = &usk;
			*ret_id = fe->id;
			found = true;
			r = img_append_entry(&out, &nfe.base);
		} else if (r > 0)
			r = img_append(&out, p - 4, len + 4);
		criuimg__file_entry__free_unpacked(fe, NULL);
	}
	if (r >= 0 && k < 0)
		r = k;
	if (r >= 0 && !found)
		r = -ENOENT;
	img_done(&in);
	if (r < 0) {
		img_done(&out);
		return r;
	}
	*ret_out = out;
	return 0;
}

/* One fdinfo-*.img: the fds of file id now name a unix socket entry (a
 * unix socket's are left as they are). */
static int rewrite_fdinfo(int dir_fd, const char *name, uint32_t id)
{
	struct img in = { 0 }, out = { 0 };
	const uint8_t *p;
	size_t off = 8, len;
	bool changed = false;
	int r, k;

	r = img_read(dir_fd, name, CRIU_IMG_FDINFO_MAGIC, &in);
	if (r < 0)
		return r;
	r = img_append(&out, in.data, 8);
	while (r >= 0 && (k = img_next(&in, &off, &p, &len)) > 0) {
		Criuimg__FdinfoEntry *e = criuimg__fdinfo_entry__unpack(NULL, len, p);

		if (!e) {
			r = -EBADMSG;
			break;
		}
		if (e->id == id && e->type == CRIUIMG__FD_TYPE__FD_INETSK) {
			e->type = CRIUIMG__FD_TYPE__FD_UNIXSK;
			changed = true;
			r = img_append_entry(&out, &e->base);
		} else
			r = img_append(&out, p - 4, len + 4);
		criuimg__fdinfo_entry__free_unpacked(e, NULL);
	}
	if (r >= 0 && k < 0)
		r = k;
	if (r >= 0 && changed)
		r = img_write(dir_fd, name, &out);
	img_done(&in);
	img_done(&out);
	return r;
}

int criu_image_inherit_listen_socket(int dir_fd, uint64_t ino)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	struct img files = { 0 };
	uint32_t id = 0;
	int r;

	r = rewrite_files(dir_fd, ino, &id, &files);
	if (r >= 0)
		r = opendir_fd(dir_fd, &d);
	while (r >= 0 && (de = readdir(d))) {
		if (strncmp(de->d_name, "fdinfo-", 7) != 0 || !strstr(de->d_name, ".img"))
			continue;
		r = rewrite_fdinfo(dir_fd, de->d_name, id);
	}
	/* files.img last: a failure before leaves CRIU's entry as it was. */
	if (r >= 0)
		r = img_write(dir_fd, "files.img", &files);
	img_done(&files);
	return r;
}
