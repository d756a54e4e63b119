/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>

#include "kexec.h"
#include "test.h"

TEST(kexec_parse_lockdown_modes)
{
	char m[24];

	ASSERT_OK(kexec_parse_lockdown("[none] integrity confidentiality\n", m, sizeof(m)));
	ASSERT_STREQ(m, "none");
	ASSERT_OK(kexec_parse_lockdown("none [integrity] confidentiality\n", m, sizeof(m)));
	ASSERT_STREQ(m, "integrity");
	ASSERT_OK(kexec_parse_lockdown("none integrity [confidentiality]", m, sizeof(m)));
	ASSERT_STREQ(m, "confidentiality");
	ASSERT_EQ(kexec_parse_lockdown("none integrity", m, sizeof(m)), -EBADMSG);
	ASSERT_EQ(kexec_parse_lockdown("[]", m, sizeof(m)), -EBADMSG);
	ASSERT_EQ(kexec_parse_lockdown("[confidentiality]", m, 4), -EBADMSG);
}

TEST(kexec_config_values)
{
	const char *cfg = "#\n# Automatically generated file\nCONFIG_KEXEC=y\n"
			  "CONFIG_KEXEC_FILE=y\nCONFIG_KEXEC_SIG=y\n"
			  "# CONFIG_KEXEC_SIG_FORCE is not set\nCONFIG_FOO=m\n";

	ASSERT_EQ(kexec_config_value(cfg, "CONFIG_KEXEC"), 1);
	ASSERT_EQ(kexec_config_value(cfg, "CONFIG_KEXEC_FILE"), 1);
	ASSERT_EQ(kexec_config_value(cfg, "CONFIG_KEXEC_SIG_FORCE"), 0);
	ASSERT_EQ(kexec_config_value(cfg, "CONFIG_FOO"), 1);
	/* A prefix of another option is not that option. */
	ASSERT_EQ(kexec_config_value(cfg, "CONFIG_KEXEC_S"), -ENOENT);
	ASSERT_EQ(kexec_config_value(cfg, "CONFIG_BAR"), -ENOENT);
	ASSERT_EQ(kexec_config_value("", "CONFIG_KEXEC"), -ENOENT);
}

static struct kexec_support open_support(void)
{
	return (struct kexec_support){ .lockdown = "none",
				       .file_load = 1,
				       .config_kexec_file = 1,
				       .config_kexec_sig = 1,
				       .config_kexec_sig_force = 0,
				       .secure_boot = 0 };
}

TEST(kexec_method_choice)
{
	struct kexec_support s = open_support();
	const char *why = NULL;
	enum kexec_method m;

	ASSERT_OK(kexec_choose_method(&s, false, &m, &why));
	ASSERT_EQ(m, KEXEC_METHOD_FILE);
	/* -i needs the legacy call, allowed without lockdown. */
	ASSERT_OK(kexec_choose_method(&s, true, &m, &why));
	ASSERT_EQ(m, KEXEC_METHOD_LEGACY);
	/* No kexec_file_load: legacy. */
	s.file_load = 0;
	ASSERT_OK(kexec_choose_method(&s, false, &m, &why));
	ASSERT_EQ(m, KEXEC_METHOD_LEGACY);
	/* ... unless locked down. */
	strcpy(s.lockdown, "integrity");
	ASSERT_EQ(kexec_choose_method(&s, false, &m, &why), -EPERM);
	ASSERT_TRUE(why && strstr(why, "locked down"));
	/* Locked down with file load: file, even when -i is asked for. */
	s.file_load = 1;
	ASSERT_OK(kexec_choose_method(&s, true, &m, &why));
	ASSERT_EQ(m, KEXEC_METHOD_FILE);
	/* Unknown lockdown state under Secure Boot counts as locked. */
	s.lockdown[0] = 0;
	s.secure_boot = 1;
	ASSERT_OK(kexec_choose_method(&s, true, &m, &why));
	ASSERT_EQ(m, KEXEC_METHOD_FILE);
	/* Disabled by sysctl: nothing. */
	s.load_disabled = true;
	ASSERT_EQ(kexec_choose_method(&s, false, &m, &why), -EPERM);
	ASSERT_TRUE(strstr(why, "kexec_load_disabled"));
}

TEST(kexec_signature_requirement)
{
	struct kexec_support s = open_support();
	struct kernel_image k = { .arch = "x86_64", .efi_stub = true, .pe_signed = false };
	const char *why = NULL;

	ASSERT_OK(kexec_image_acceptable(&s, &k, KEXEC_METHOD_FILE, &why));
	strcpy(s.lockdown, "integrity");
	ASSERT_EQ(kexec_image_acceptable(&s, &k, KEXEC_METHOD_FILE, &why), -EKEYREJECTED);
	ASSERT_TRUE(why && strstr(why, "signature"));
	k.pe_signed = true;
	ASSERT_OK(kexec_image_acceptable(&s, &k, KEXEC_METHOD_FILE, &why));
	strcpy(s.lockdown, "none");
	s.config_kexec_sig_force = 1;
	k.pe_signed = false;
	ASSERT_EQ(kexec_image_acceptable(&s, &k, KEXEC_METHOD_LEGACY, &why), -EKEYREJECTED);
}

static char *joined(char **v)
{
	static char buf[1024];

	buf[0] = 0;
	for (; *v; v++) {
		strcat(buf, *v);
		if (v[1])
			strcat(buf, " ");
	}
	return buf;
}

TEST(kexec_load_argv)
{
	struct kexec_request rq = { .kernel = "/boot/vmlinuz-6.1.0-56-cloud-amd64",
				    .initrd = "/run/kupgrade-stage/initrd.img",
				    .append = "root=/dev/vda1 ro quiet" };
	char **v = NULL;

	ASSERT_OK(kexec_build_load_argv("/sbin/kexec", &rq, KEXEC_METHOD_FILE, &v));
	ASSERT_STREQ(joined(v), "/sbin/kexec -s -l /boot/vmlinuz-6.1.0-56-cloud-amd64 "
				"--initrd=/run/kupgrade-stage/initrd.img "
				"--append=root=/dev/vda1 ro quiet panic=10");
	kexec_argv_free(v);

	/* -i only on the legacy path, where it means something. */
	rq.no_checks = true;
	ASSERT_OK(kexec_build_load_argv("/sbin/kexec", &rq, KEXEC_METHOD_FILE, &v));
	ASSERT_TRUE(!strstr(joined(v), " -i "));
	kexec_argv_free(v);
	rq.append = NULL;
	rq.reuse_cmdline = true;
	rq.initrd = NULL;
	ASSERT_OK(kexec_build_load_argv("/sbin/kexec", &rq, KEXEC_METHOD_LEGACY, &v));
	ASSERT_STREQ(joined(v), "/sbin/kexec -c -i -l /boot/vmlinuz-6.1.0-56-cloud-amd64 "
				"--reuse-cmdline --append=panic=10");
	kexec_argv_free(v);

	rq.append = "x";
	ASSERT_EQ(kexec_build_load_argv("/sbin/kexec", &rq, KEXEC_METHOD_FILE, &v), -EINVAL);
	rq.append = NULL;
	rq.kernel = NULL;
	ASSERT_EQ(kexec_build_load_argv("/sbin/kexec", &rq, KEXEC_METHOD_FILE, &v), -EINVAL);
}

TEST(kexec_cmdline_panic_position)
{
	ASSERT_EQ(kexec_cmdline_panic_pos(NULL), 0);
	ASSERT_EQ(kexec_cmdline_panic_pos(""), 0);
	ASSERT_EQ(kexec_cmdline_panic_pos("root=/dev/vda1 ro\n"), 18);
	ASSERT_EQ(kexec_cmdline_panic_pos("root=/dev/vda1 panic=0 ro"), -EEXIST);
	ASSERT_EQ(kexec_cmdline_panic_pos("panic=10"), -EEXIST);
	ASSERT_EQ(kexec_cmdline_panic_pos("\"panic=5\" ro"), -EEXIST);
	/* Other parameters that only start alike, or a value that quotes it. */
	ASSERT_EQ(kexec_cmdline_panic_pos("panic_on_warn=1 oops=panic"), 26);
	ASSERT_EQ(kexec_cmdline_panic_pos("x=\"a panic=3\" ro"), 16);
	/* After "--" the words are init's: panic= goes before them. */
	ASSERT_EQ(kexec_cmdline_panic_pos("root=/dev/vda1 -- single"), 15);
	ASSERT_EQ(kexec_cmdline_panic_pos("ro -- panic=3"), 3);
}

/* kexec's arguments after the kernel, for rq loaded with FILE. */
static char *append_of(const struct kexec_request *rq)
{
	static char buf[1024];
	char **v = NULL;

	ASSERT_OK(kexec_build_load_argv("/sbin/kexec", rq, KEXEC_METHOD_FILE, &v));
	snprintf(buf, sizeof(buf), "%s", joined(v + 4));
	kexec_argv_free(v);
	return buf;
}

TEST(kexec_new_kernel_reboots_after_a_panic)
{
	struct kexec_request rq = { .kernel = "/boot/vmlinuz" };

	/* The operator's own panic= stays as it is. */
	rq.append = "root=/dev/vda1 panic=0";
	ASSERT_STREQ(append_of(&rq), "--append=root=/dev/vda1 panic=0");
	rq.append = "root=/dev/vda1 -- single";
	ASSERT_STREQ(append_of(&rq), "--append=root=/dev/vda1 panic=10 -- single");
	rq.append = "root=/dev/vda1 ";
	ASSERT_STREQ(append_of(&rq), "--append=root=/dev/vda1 panic=10");
	rq.append = "";
	ASSERT_STREQ(append_of(&rq), "--append=panic=10");

	/* --reuse-cmdline: added after the running line, once: a line a
	 * switch booted with has it already. */
	rq.append = NULL;
	rq.reuse_cmdline = true;
	rq.running_cmdline = "BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro quiet\n";
	ASSERT_STREQ(append_of(&rq), "--reuse-cmdline --append=panic=10");
	rq.running_cmdline = "BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro quiet panic=10\n";
	ASSERT_STREQ(append_of(&rq), "--reuse-cmdline");
	/* Added after "--" it would be init's: not added. */
	rq.running_cmdline = "root=/dev/vda1 -- single\n";
	ASSERT_STREQ(append_of(&rq), "--reuse-cmdline");
}

/* The switch marks the boot it starts; the restore reads the mark back. */
TEST(kexec_new_kernel_is_marked_for_its_images)
{
	struct kexec_request rq = { .kernel = "/boot/vmlinuz", .mark = "ab12" };
	char **v = NULL;
	char *mark;

	rq.append = "root=/dev/vda1 panic=0";
	ASSERT_STREQ(append_of(&rq), "--append=root=/dev/vda1 panic=0 kupgrade.upgrade=ab12");
	rq.append = "root=/dev/vda1 -- single";
	ASSERT_STREQ(append_of(&rq),
		     "--append=root=/dev/vda1 panic=10 kupgrade.upgrade=ab12 -- single");
	rq.append = NULL;
	rq.reuse_cmdline = true;
	/* A line a switch booted with: its own mark stays, the new one wins. */
	rq.running_cmdline = "root=/dev/vda1 panic=10 kupgrade.upgrade=0000\n";
	ASSERT_STREQ(append_of(&rq), "--reuse-cmdline --append=kupgrade.upgrade=ab12");
	/* After init's arguments the mark would be init's: refused. */
	rq.running_cmdline = "root=/dev/vda1 -- single\n";
	ASSERT_EQ(kexec_build_load_argv("/sbin/kexec", &rq, KEXEC_METHOD_FILE, &v), -EINVAL);

	mark = kexec_cmdline_mark("root=/dev/vda1 kupgrade.upgrade=0000 panic=10 "
				  "kupgrade.upgrade=ab12\n");
	ASSERT_STREQ(mark, "ab12");
	free(mark);
	mark = kexec_cmdline_mark("root=/dev/vda1 \"kupgrade.upgrade=cd34\" ro");
	ASSERT_STREQ(mark, "cd34");
	free(mark);
	ASSERT_TRUE(kexec_cmdline_mark("root=/dev/vda1 -- kupgrade.upgrade=ab12") == NULL);
	ASSERT_TRUE(kexec_cmdline_mark(NULL) == NULL);
	ASSERT_EQ(kexec_cmdline_params_end("ro -- x"), 3);
}

TEST(kexec_method_names)
{
	ASSERT_STREQ(kexec_method_to_string(KEXEC_METHOD_FILE), "kexec_file_load");
	ASSERT_STREQ(kexec_method_to_string(KEXEC_METHOD_LEGACY), "kexec_load");
}
