/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "inspect.h"
#include "test.h"

TEST(inspect_json_has_units_connections_and_timings)
{
	Manifest *m = manifest_new("b00t", "6.1.0-55-cloud-amd64");
	ManifestUnit *u;
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	ASSERT_TRUE(m);
	ASSERT_OK(manifest_set_string(&m->lock_method, "nftables"));
	u = manifest_add_unit(m, "session-6.scope", MANIFEST_UNIT_SESSION, "session-6.scope");
	ASSERT_OK(manifest_unit_add_root(u, 343));
	ASSERT_OK(manifest_unit_add_connection(u, AF_INET, "10.0.2.15", 22, "10.0.2.2", 49776));
	ASSERT_OK(manifest_unit_add_external(u, "file[c9:2a6]", "/run/systemd/sessions/6.ref",
					     S_IFIFO | 0600, 343, 8));
	ASSERT_OK(manifest_unit_add_timing(u, "criu-frozen", 3277000));
	f = open_memstream(&buf, &size);
	ASSERT_OK(inspect_print_json(f, m));
	fclose(f);
	ASSERT_TRUE(strstr(buf, "\"lock_method\":\"nftables\""));
	ASSERT_TRUE(strstr(buf, "\"root_pids\":[343]"));
	ASSERT_TRUE(strstr(
		buf,
		"{\"family\":\"ipv4\",\"src\":\"10.0.2.15\",\"sport\":22,\"dst\":\"10.0.2.2\",\"dport\":49776}"));
	ASSERT_TRUE(strstr(buf, "\"key\":\"file[c9:2a6]\""));
	ASSERT_TRUE(strstr(buf, "\"timings_usec\":{\"criu-frozen\":3277000}"));
	ASSERT_TRUE(strstr(buf, "\"outcome\":\"pending\""));
	ASSERT_EQ(buf[strlen(buf) - 1], '\n');
	free(buf);
	manifest_free(m);
}

/* "kupgrade status" says how the images crossed and where to. */
TEST(inspect_text_names_both_kernels_and_the_transport)
{
	Manifest *m = manifest_new("b00t", "6.1.0-55-cloud-amd64");
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	ASSERT_TRUE(m);
	ASSERT_OK(manifest_set_string(&m->kernel_to, "6.1.0-56-cloud-amd64"));
	ASSERT_OK(manifest_set_string(&m->transport, "disk"));
	f = open_memstream(&buf, &size);
	inspect_print_text(f, m);
	fclose(f);
	ASSERT_TRUE(strstr(buf, "  kernel:     6.1.0-55-cloud-amd64 -> 6.1.0-56-cloud-amd64\n"));
	ASSERT_TRUE(strstr(buf, "  transport:  disk\n"));
	free(buf);
	manifest_free(m);
}
