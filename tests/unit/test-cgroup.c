/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>

#include "cgroup.h"
#include "test.h"

TEST(cgroup_path_joins_mount_cgroup_and_file)
{
	char *p = NULL;

	ASSERT_OK(cgroup_path("/sys/fs/cgroup", "/system.slice/ssh.service", "cgroup.procs", &p));
	ASSERT_STREQ(p, "/sys/fs/cgroup/system.slice/ssh.service/cgroup.procs");
	free(p);
	ASSERT_OK(cgroup_path("/sys/fs/cgroup/unified", "/system.slice", NULL, &p));
	ASSERT_STREQ(p, "/sys/fs/cgroup/unified/system.slice");
	free(p);
	/* The root cgroup adds no component of its own. */
	ASSERT_OK(cgroup_path("/sys/fs/cgroup", "/", "cgroup.procs", &p));
	ASSERT_STREQ(p, "/sys/fs/cgroup/cgroup.procs");
	free(p);
	ASSERT_OK(cgroup_path("/sys/fs/cgroup", "/", NULL, &p));
	ASSERT_STREQ(p, "/sys/fs/cgroup");
	free(p);
}
