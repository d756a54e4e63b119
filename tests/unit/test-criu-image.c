/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "criu-image.h"
#include "criu-image.pb-c.h"
#include "listensock.h"
#include "test.h"

/* A CRIU image file: the two magics, then length-prefixed entries. */
static void put_le32(FILE *f, uint32_t v)
{
	uint8_t b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };

	ASSERT_EQ(fwrite(b, 1, 4, f), 4);
}

static void put_entry(FILE *f, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n);

	ASSERT_TRUE(buf);
	protobuf_c_message_pack(m, buf);
	put_le32(f, (uint32_t)n);
	ASSERT_EQ(fwrite(buf, 1, n, f), n);
	free(buf);
}

static FILE *open_image(int dir, const char *name, uint32_t magic)
{
	int fd = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	ASSERT_TRUE(f);
	put_le32(f, CRIU_IMG_COMMON_MAGIC);
	put_le32(f, magic);
	return f;
}

/* Entry i of an image, unpacked with unpack(len, data). */
static void *entry(int dir, const char *name, unsigned i, void *(*unpack)(size_t, const uint8_t *))
{
	static uint8_t buf[4096];
	int fd = openat(dir, name, O_RDONLY);
	ssize_t n = read(fd, buf, sizeof(buf));
	size_t off = 8;

	close(fd);
	ASSERT_TRUE(n > 8);
	for (;;) {
		uint32_t len = buf[off] | buf[off + 1] << 8 | buf[off + 2] << 16 |
			       (uint32_t)buf[off + 3] << 24;

		ASSERT_TRUE(off + 4 + len <= (size_t)n);
		if (i-- == 0)
			return unpack(len, buf + off + 4);
		off += 4 + len;
	}
}

static void *unpack_file(size_t n, const uint8_t *p)
{
	return criuimg__file_entry__unpack(NULL, n, p);
}

static void *unpack_fdinfo(size_t n, const uint8_t *p)
{
	return criuimg__fdinfo_entry__unpack(NULL, n, p);
}

/* files.img with a regular file (id 1), a listening TCP socket (id 2, inode
 * 777), an established one (id 3, inode 778) and a listening unix socket
 * bound to /run/x.sock (id 4, inode 780); fdinfo-2.img with fds 0, 3 and 5,
 * the last two on the listening socket, and 6 on the unix socket. */
static int sample_images(void)
{
	char dir[] = "/tmp/kupgrade-test-XXXXXX";
	uint8_t fown[] = { 0x08, 0x00 }, opts[] = { 0x08, 0x01, 0x10, 0x02 };
	Criuimg__FileEntry reg = CRIUIMG__FILE_ENTRY__INIT, lis = CRIUIMG__FILE_ENTRY__INIT,
			   est = CRIUIMG__FILE_ENTRY__INIT;
	Criuimg__InetSkEntry l = CRIUIMG__INET_SK_ENTRY__INIT, e = CRIUIMG__INET_SK_ENTRY__INIT;
	Criuimg__FileEntry unx = CRIUIMG__FILE_ENTRY__INIT;
	Criuimg__UnixSkEntry us = CRIUIMG__UNIX_SK_ENTRY__INIT;
	Criuimg__FdinfoEntry fds[4] = { CRIUIMG__FDINFO_ENTRY__INIT, CRIUIMG__FDINFO_ENTRY__INIT,
					CRIUIMG__FDINFO_ENTRY__INIT, CRIUIMG__FDINFO_ENTRY__INIT };
	int d;
	FILE *f;

	ASSERT_TRUE(mkdtemp(dir));
	d = open(dir, O_RDONLY | O_DIRECTORY);
	ASSERT_TRUE(d >= 0);
	reg.type = CRIUIMG__FD_TYPE__FD_REG, reg.id = 1;
	l.id = 2, l.ino = 777, l.family = AF_INET, l.type = SOCK_STREAM, l.proto = IPPROTO_TCP;
	l.state = TCP_LISTEN, l.src_port = 7100, l.flags = O_RDWR, l.backlog = 128;
	l.has_fown = l.has_opts = true;
	l.fown = (ProtobufCBinaryData){ sizeof(fown), fown };
	l.opts = (ProtobufCBinaryData){ sizeof(opts), opts };
	lis.type = CRIUIMG__FD_TYPE__FD_INETSK, lis.id = 2, lis.isk = &l;
	e = l;
	e.id = 3, e.ino = 778, e.state = TCP_ESTABLISHED;
	est.type = CRIUIMG__FD_TYPE__FD_INETSK, est.id = 3, est.isk = &e;
	us.id = 4, us.ino = 780, us.type = SOCK_STREAM, us.state = TCP_LISTEN, us.flags = O_RDWR,
	us.backlog = 64;
	us.fown = l.fown, us.opts = l.opts;
	us.name = (ProtobufCBinaryData){ 11, (uint8_t *)"/run/x.sock" };
	unx.type = CRIUIMG__FD_TYPE__FD_UNIXSK, unx.id = 4, unx.usk = &us;
	f = open_image(d, "files.img", CRIU_IMG_FILES_MAGIC);
	put_entry(f, &reg.base);
	put_entry(f, &lis.base);
	put_entry(f, &est.base);
	put_entry(f, &unx.base);
	fclose(f);
	fds[0].id = 1, fds[0].type = CRIUIMG__FD_TYPE__FD_REG, fds[0].fd = 0;
	fds[1].id = 2, fds[1].type = CRIUIMG__FD_TYPE__FD_INETSK, fds[1].fd = 3;
	fds[2].id = 2, fds[2].type = CRIUIMG__FD_TYPE__FD_INETSK, fds[2].fd = 5, fds[2].flags = 1;
	fds[3].id = 4, fds[3].type = CRIUIMG__FD_TYPE__FD_UNIXSK, fds[3].fd = 6;
	f = open_image(d, "fdinfo-2.img", CRIU_IMG_FDINFO_MAGIC);
	for (int i = 0; i < 4; i++)
		put_entry(f, &fds[i].base);
	fclose(f);
	return d;
}

TEST(criu_image_listen_socket_becomes_inherited)
{
	int d = sample_images();
	Criuimg__FileEntry *fe;
	Criuimg__FdinfoEntry *fi;

	ASSERT_OK(criu_image_inherit_listen_socket(d, 777));
	fe = entry(d, "files.img", 0, unpack_file);
	ASSERT_EQ(fe->type, CRIUIMG__FD_TYPE__FD_REG);
	fe = entry(d, "files.img", 1, unpack_file);
	ASSERT_EQ(fe->type, CRIUIMG__FD_TYPE__FD_UNIXSK);
	ASSERT_EQ(fe->id, 2);
	ASSERT_TRUE(fe->usk && !fe->isk);
	ASSERT_EQ(fe->usk->ino, 777); /* CRIU's inherit key: "socket:[777]" */
	ASSERT_EQ(fe->usk->state, TCP_LISTEN);
	ASSERT_EQ(fe->usk->type, SOCK_STREAM);
	ASSERT_EQ(fe->usk->flags, O_RDWR);
	ASSERT_EQ(fe->usk->backlog, 128);
	ASSERT_EQ(fe->usk->peer, 0);
	ASSERT_EQ(fe->usk->name.len, 0);
	ASSERT_EQ(fe->usk->opts.len, 4);
	ASSERT_EQ(fe->usk->opts.data[3], 2);
	fe = entry(d, "files.img", 2, unpack_file);
	ASSERT_EQ(fe->type, CRIUIMG__FD_TYPE__FD_INETSK);
	ASSERT_EQ(fe->isk->ino, 778);
	fi = entry(d, "fdinfo-2.img", 0, unpack_fdinfo);
	ASSERT_EQ(fi->type, CRIUIMG__FD_TYPE__FD_REG);
	fi = entry(d, "fdinfo-2.img", 1, unpack_fdinfo);
	ASSERT_EQ(fi->type, CRIUIMG__FD_TYPE__FD_UNIXSK);
	ASSERT_EQ(fi->fd, 3);
	fi = entry(d, "fdinfo-2.img", 2, unpack_fdinfo);
	ASSERT_EQ(fi->type, CRIUIMG__FD_TYPE__FD_UNIXSK);
	ASSERT_EQ(fi->fd, 5);
	ASSERT_EQ(fi->flags, 1);
	fe = entry(d, "files.img", 3, unpack_file);
	ASSERT_EQ(fe->usk->name.len, 11); /* not asked for: as it was */
	/* A named unix socket: CRIU would unlink its path and bind anew. */
	ASSERT_OK(criu_image_inherit_listen_socket(d, 780));
	fe = entry(d, "files.img", 3, unpack_file);
	ASSERT_EQ(fe->type, CRIUIMG__FD_TYPE__FD_UNIXSK);
	ASSERT_EQ(fe->usk->ino, 780);
	ASSERT_EQ(fe->usk->name.len, 0);
	ASSERT_EQ(fe->usk->backlog, 64);
	ASSERT_EQ(((Criuimg__FdinfoEntry *)entry(d, "fdinfo-2.img", 3, unpack_fdinfo))->type,
		  CRIUIMG__FD_TYPE__FD_UNIXSK);
	/* No temporary file left beside the images. */
	ASSERT_TRUE(faccessat(d, ".files.img.kupgrade", F_OK, 0) < 0);
}

TEST(criu_image_refuses_what_it_cannot_hand_back)
{
	int d = sample_images();
	struct stat before, after;

	ASSERT_OK(fstatat(d, "files.img", &before, 0));
	ASSERT_EQ(criu_image_inherit_listen_socket(d, 779), -ENOENT);
	ASSERT_EQ(criu_image_inherit_listen_socket(d, 778), -EINVAL); /* established */
	ASSERT_OK(fstatat(d, "files.img", &after, 0));
	ASSERT_EQ(before.st_ino, after.st_ino); /* not rewritten */
	ASSERT_EQ(((Criuimg__FdinfoEntry *)entry(d, "fdinfo-2.img", 1, unpack_fdinfo))->type,
		  CRIUIMG__FD_TYPE__FD_INETSK);
	/* Not CRIU's format: refused, not guessed. */
	ASSERT_OK(renameat(d, "fdinfo-2.img", d, "files.img"));
	ASSERT_EQ(criu_image_inherit_listen_socket(d, 777), -EBADMSG);
}

TEST(listen_sock_name_names_listening_tcp_sockets)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int tcp = socket(AF_INET, SOCK_STREAM, 0), udp = socket(AF_INET, SOCK_DGRAM, 0), copy = -1;
	char name[128], want[128];

	ASSERT_OK(bind(tcp, (struct sockaddr *)&sa, sizeof(sa)));
	ASSERT_EQ(listen_sock_name(tcp, name, sizeof(name)),
		  -EOPNOTSUPP); /* bound, not listening */
	ASSERT_OK(listen(tcp, 4));
	ASSERT_OK(getsockname(tcp, (struct sockaddr *)&sa, &len));
	snprintf(want, sizeof(want), "tcp 127.0.0.1:%u", ntohs(sa.sin_port));
	ASSERT_OK(listen_sock_name(tcp, name, sizeof(name)));
	ASSERT_STREQ(name, want);
	ASSERT_EQ(listen_sock_name(udp, name, sizeof(name)), -EOPNOTSUPP);
	/* The copy another process would take is the same socket, inheritable. */
	ASSERT_OK(proc_dup_fd(getpid(), tcp, true, &copy));
	ASSERT_OK(listen_sock_name(copy, name, sizeof(name)));
	ASSERT_STREQ(name, want);
	ASSERT_EQ(fcntl(copy, F_GETFD), 0);
}

TEST(listen_sock_name_names_unix_stream_sockets)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/kupgrade-test-XXXXXX", name[200], want[200];
	int path = socket(AF_UNIX, SOCK_STREAM, 0), abstract = socket(AF_UNIX, SOCK_STREAM, 0);
	int unnamed = socket(AF_UNIX, SOCK_STREAM, 0);

	ASSERT_TRUE(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s.sock", dir);
	ASSERT_OK(bind(path, (struct sockaddr *)&sa, sizeof(sa)));
	ASSERT_OK(listen(path, 4));
	snprintf(want, sizeof(want), "unix %s", sa.sun_path);
	ASSERT_OK(listen_sock_name(path, name, sizeof(name)));
	ASSERT_STREQ(name, want);
	unlink(sa.sun_path);
	rmdir(dir);
	memset(sa.sun_path, 0, sizeof(sa.sun_path));
	memcpy(sa.sun_path + 1, "kupgrade-test", 13);
	ASSERT_OK(bind(abstract, (struct sockaddr *)&sa,
		       offsetof(struct sockaddr_un, sun_path) + 14));
	ASSERT_OK(listen(abstract, 4));
	ASSERT_OK(listen_sock_name(abstract, name, sizeof(name)));
	ASSERT_STREQ(name, "unix @kupgrade-test");
	ASSERT_EQ(listen_sock_name(unnamed, name, sizeof(name)), -EOPNOTSUPP);
}
