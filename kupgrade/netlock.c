/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "netlock.h"
#include "spawn-util.h"

/*
 * One set per family holds the 4-tuples in both directions (local . lport .
 * peer . pport for output, peer . pport . local . lport for input). Priority
 * -300 runs before conntrack, so the dropped packets leave no state behind.
 * "create table" fails if a lock already exists: a second checkpoint must
 * not silently merge into a pending one.
 */
static const struct {
	int family;
	const char *set, *type, *match;
} fam[] = {
	{ AF_INET, "conns4", "ipv4_addr", "ip" },
	{ AF_INET6, "conns6", "ipv6_addr", "ip6" },
};

/* "<verb> element inet T connsN { both directions of each c }" per family;
 * nothing for a family without connections (nft rejects "{ }"). */
static void element_lines(FILE *f, const char *verb, const char *table, const struct tcp_conn *c,
			  size_t n)
{
	for (size_t k = 0; k < ELEMENTSOF(fam); k++) {
		bool first = true;

		for (size_t i = 0; i < n; i++) {
			if (c[i].family != fam[k].family)
				continue;
			if (first)
				fprintf(f, "%s element inet %s %s { ", verb, table, fam[k].set);
			fprintf(f, "%s%s . %u . %s . %u, %s . %u . %s . %u", first ? "" : ", ",
				c[i].src, c[i].sport, c[i].dst, c[i].dport, c[i].dst, c[i].dport,
				c[i].src, c[i].sport);
			first = false;
		}
		if (!first)
			fprintf(f, " }\n");
	}
}

/*
 * What goes into a script is checked here too, a second line of defence
 * behind the manifest's own check (manifest-check.c): a table name is an nft
 * identifier, an address parses as one of its family, a port is not 0. The
 * connections come back from the manifest after a kexec.
 */
static bool table_valid(const char *t)
{
	static const char first[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_";
	size_t n = t ? strlen(t) : 0;

	return n > 0 && n <= 64 && strchr(first, t[0]) &&
	       strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

static bool address_valid(int family, const char *s, size_t size)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return strnlen(s, size) < size && inet_pton(family, s, buf) == 1;
}

static int check_script_input(const char *table, const struct tcp_conn *c, size_t n)
{
	if (!table_valid(table))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((c[i].family != AF_INET && c[i].family != AF_INET6) || c[i].sport == 0 ||
		    c[i].dport == 0 || !address_valid(c[i].family, c[i].src, sizeof(c[i].src)) ||
		    !address_valid(c[i].family, c[i].dst, sizeof(c[i].dst)))
			return -EINVAL;
	return 0;
}

/* open_memstream() sets *buf at fclose(): pass its address. */
static int close_script(FILE *f, char **buf, char **ret)
{
	if (fclose(f) != 0) {
		free(*buf);
		return -ENOMEM;
	}
	*ret = *buf;
	return 0;
}

/*
 * One set per family holds the 4-tuples in both directions (local . lport .
 * peer . pport for output, peer . pport . local . lport for input). Priority
 * -300 runs before conntrack, so the dropped packets leave no state behind.
 * "create table" fails if a lock already exists: a second checkpoint must
 * not silently merge into a pending one.
 */
int netlock_nft_script(const char *table, const struct tcp_conn *c, size_t n, char **ret)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	if (check_script_input(table, c, n) < 0)
		return -EINVAL;
	f = open_memstream(&buf, &size);
	if (!f)
		return -ENOMEM;
	fprintf(f, "create table inet %s\n", table);
	for (size_t k = 0; k < ELEMENTSOF(fam); k++)
		fprintf(f, "add set inet %s %s { type %s . inet_service . %s . inet_service; }\n",
			table, fam[k].set, fam[k].type, fam[k].type);
	element_lines(f, "add", table, c, n);
	for (int out = 0; out < 2; out++) {
		const char *chain = out ? "output" : "input";

		fprintf(f,
			"add chain inet %s %s { type filter hook %s priority -300; policy accept; }\n",
			table, chain, chain);
		fprintf(f, "add rule inet %s %s meta mark 0x%x accept\n", table, chain,
			NETLOCK_CRIU_MARK);
		for (size_t k = 0; k < ELEMENTSOF(fam); k++)
			fprintf(f,
				"add rule inet %s %s %s saddr . tcp sport . %s daddr . tcp dport @%s drop\n",
				table, chain, fam[k].match, fam[k].match, fam[k].set);
	}
	return close_script(f, &buf, ret);
}

int netlock_nft_update_script(const char *table, bool add, const struct tcp_conn *c, size_t n,
			      char **ret)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	if (check_script_input(table, c, n) < 0)
		return -EINVAL;
	f = open_memstream(&buf, &size);
	if (!f)
		return -ENOMEM;
	element_lines(f, add ? "add" : "delete", table, c, n);
	return close_script(f, &buf, ret);
}

/* Run nft with args, feeding script (if any) on stdin; its output, stdout
 * and stderr, in *ret_err. Returns nft's exit status, -ENOENT if there is no
 * nft, -EIO if it was killed, or -errno if it could not run. */
static int run_nft(const char *script, char **ret_err, ...)
{
	const char *argv[8] = { "nft" };
	size_t n = 1;
	va_list ap;
	int r;

	va_start(ap, ret_err);
	while (n < ELEMENTSOF(argv) - 1 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;

	r = spawn_run(&(struct spawn){
		.argv = argv,
		.input = script,
		.output = ret_err,
		.stderr_fd = ret_err ? SPAWN_STDOUT : SPAWN_NULL,
	});
	if (r == 127)
		return -ENOENT;
	if (r >= 128)
		return -EIO;
	return r;
}

static const char *nft_table_desc(void)
{
	return "inet " NETLOCK_TABLE;
}

static int nft_probe(void)
{
	_cleanup_free_ char *err = NULL;
	int r = run_nft(NULL, &err, "list", "tables", NULL);

	if (r == -ENOENT)
		return log_error_errno(
			r, "The nft command is not installed: install the nftables package.");
	if (r != 0)
		return log_error_errno(r < 0 ? r : -EOPNOTSUPP, "nft cannot list tables here: %s",
				       err ?: "(no output)");
	return 0;
}

static int nft_exists(void)
{
	int r = run_nft(NULL, NULL, "list", "table", "inet", NETLOCK_TABLE, NULL);

	return r < 0 ? r : r == 0;
}

static int nft_lock(const struct tcp_conn *c, size_t n)
{
	_cleanup_free_ char *script = NULL, *err = NULL;
	int r;

	r = netlock_nft_script(NETLOCK_TABLE, c, n, &script);
	if (r == -EINVAL)
		return log_error_errno(r, "Refusing to lock: a connection's address or port is not "
					  "valid.");
	if (r < 0)
		return r;
	log_debug("nft script:\n%s", script);
	r = run_nft(script, &err, "-f", "-", NULL);
	if (r < 0)
		return log_error_errno(r, "Cannot run nft: %m");
	if (r != 0) {
		if (nft_exists() > 0)
			return log_error_errno(-EEXIST,
					       "A lock table 'inet %s' already exists: another checkpoint is "
					       "pending. Restore it, or remove the table with "
					       "'nft delete table inet %s' if it is stale.",
					       NETLOCK_TABLE, NETLOCK_TABLE);
		return log_error_errno(-EIO, "nft refused the lock: %s", err ?: "(no output)");
	}
	return 0;
}

static int nft_update(bool add, const struct tcp_conn *c, size_t n)
{
	_cleanup_free_ char *script = NULL, *err = NULL;
	int r;

	if (n == 0)
		return 0;
	r = netlock_nft_update_script(NETLOCK_TABLE, add, c, n, &script);
	if (r == -EINVAL)
		return log_error_errno(r,
				       "Refusing to %s the lock: a connection's address or port "
				       "is not valid.",
				       add ? "add connections to" : "delete connections from");
	if (r < 0)
		return r;
	r = run_nft(script, &err, "-f", "-", NULL);
	if (r != 0)
		return log_error_errno(r < 0 ? r : -EIO,
				       "nft cannot %s connections %s the lock: %s",
				       add ? "add" : "delete", add ? "to" : "from",
				       err ?: "(no output)");
	return 0;
}

static int nft_unlock(void)
{
	_cleanup_free_ char *err = NULL;
	int r;

	r = nft_exists();
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	r = run_nft(NULL, &err, "delete", "table", "inet", NETLOCK_TABLE, NULL);
	if (r != 0)
		return log_error_errno(r < 0 ? r : -EIO, "nft cannot delete table inet %s: %s",
				       NETLOCK_TABLE, err ?: "(no output)");
	return 0;
}

static const struct netlock_ops nftables_ops = {
	.name = "nftables",
	.table_desc = nft_table_desc,
	.probe = nft_probe,
	.lock = nft_lock,
	.update = nft_update,
	.unlock = nft_unlock,
	.exists = nft_exists,
};

/* An iptables backend would be another entry here. */
static const struct netlock_ops *const backends[] = { &nftables_ops };

const struct netlock_ops *netlock_get(const char *method)
{
	for (size_t i = 0; i < ELEMENTSOF(backends); i++) {
		if (method && !streq(method, backends[i]->name))
			continue;
		if (!method && backends[i]->probe() < 0)
			continue;
		return backends[i];
	}
	return NULL;
}

int netlock_drop_criu_table(pid_t root)
{
	_cleanup_free_ char *err = NULL;
	char name[32];
	int r;

	snprintf(name, sizeof(name), "CRIU-%d", (int)root);
	r = run_nft(NULL, NULL, "list", "table", "inet", name, NULL);
	if (r != 0)
		return r < 0 ? r : 0; /* none (or no nft at all) */
	r = run_nft(NULL, &err, "delete", "table", "inet", name, NULL);
	if (r != 0)
		return log_error_errno(r < 0 ? r : -EIO,
				       "nft cannot delete CRIU's table inet %s: %s", name,
				       err ?: "(no output)");
	return 1;
}
