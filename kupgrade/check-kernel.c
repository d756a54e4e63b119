/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The preflight's probes of the kernel to switch to: the image, its modules
 * and initrd, whether that initrd can receive the images, and kexec. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "check-probe.h"
#include "kexec.h"
#include "transport.h"

int probe_kernel(struct check *c, struct probe_result *r)
{
	const char *native = kernel_image_native_arch();
	struct stat st;
	struct utsname u;
	int k;

	if (stat(c->kernel, &st) < 0)
		return probe_set(r, PROBE_FAIL,
				 "give the path of an installed kernel, e.g. /boot/vmlinuz-VERSION",
				 "%s: %s", c->kernel, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return probe_set(r, PROBE_FAIL, "give the path of a kernel image file (vmlinuz)",
				 "%s is not a regular file", c->kernel);
	k = kernel_image_read(c->kernel, &c->image);
	if (k == -ENOEXEC)
		return probe_set(r, PROBE_FAIL, "give the path of a kernel image (vmlinuz-VERSION)",
				 "%s is not a Linux kernel image", c->kernel);
	if (k < 0)
		return probe_set(r, PROBE_FAIL, "reinstall the kernel package",
				 "%s: cannot read its kernel header: %s", c->kernel, strerror(-k));
	if (!streq(c->image.arch, native))
		return probe_set(r, PROBE_FAIL, "give a kernel built for this machine",
				 "%s is a kernel for %s, this machine runs %s", c->kernel,
				 c->image.arch, native);
	if (isempty(c->image.release))
		return probe_set(r, PROBE_FAIL, "give a bzImage kernel (vmlinuz)",
				 "%s has no version string in its header", c->kernel);
	c->have_image = true;
	if (uname(&u) >= 0 && streq(u.release, c->image.release))
		return probe_set(r, PROBE_WARN, "nothing to do unless it was rebuilt",
				 "Linux %s is the kernel running now", c->image.release);
	return probe_set(r, PROBE_OK, NULL, "Linux %s (%s, boot protocol %u.%02u%s%s)",
			 c->image.release, c->image.arch, c->image.boot_protocol >> 8,
			 c->image.boot_protocol & 0xff, c->image.efi_stub ? ", EFI stub" : "",
			 c->image.pe_signed ? ", signed" : "");
}

int probe_modules(struct check *c, struct probe_result *r)
{
	_cleanup_free_ char *dir = NULL, *dep = NULL, *action = NULL;
	struct stat st;

	if (!c->have_image)
		return probe_set(r, PROBE_SKIP, NULL, "needs a valid kernel");
	if (asprintf(&dir, "/lib/modules/%s", c->image.release) < 0 ||
	    asprintf(&dep, "%s/modules.dep", dir) < 0)
		return -ENOMEM;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		if (asprintf(&action, "install the modules of %s (its linux-image package)",
			     c->image.release) < 0)
			return -ENOMEM;
		return probe_set(r, PROBE_FAIL, action,
				 "%s does not exist: the new kernel would boot without its modules",
				 dir);
	}
	if (access(dep, F_OK) < 0) {
		if (asprintf(&action, "run 'depmod %s'", c->image.release) < 0)
			return -ENOMEM;
		return probe_set(r, PROBE_FAIL, action, "%s is missing", dep);
	}
	return probe_set(r, PROBE_OK, NULL, "%s", dir);
}

int probe_initrd(struct check *c, struct probe_result *r)
{
	_cleanup_free_ char *action = NULL;
	struct stat st;

	if (c->o->initrd) {
		if (stat(c->o->initrd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
			return probe_set(r, PROBE_FAIL, "give the initrd built for this kernel",
					 "%s is missing, empty or not a file", c->o->initrd);
		c->initrd = strdup(c->o->initrd);
		return c->initrd ? probe_set(r, PROBE_OK, NULL, "%s", c->initrd) : -ENOMEM;
	}
	if (!c->have_image)
		return probe_set(r, PROBE_SKIP, NULL, "needs a valid kernel to find its initrd");
	c->initrd = kernel_image_find_initrd(c->kernel, c->image.release);
	if (c->initrd)
		return probe_set(r, PROBE_OK, NULL, "%s", c->initrd);
	if (asprintf(&action,
		     "build it ('update-initramfs -c -k %s' or 'dracut --kver %s'), "
		     "or pass --initrd FILE",
		     c->image.release, c->image.release) < 0)
		return -ENOMEM;
	return probe_set(r, PROBE_FAIL, action, "no initrd.img-%s or initramfs-%s.img next to %s",
			 c->image.release, c->image.release, c->kernel);
}

int probe_initrd_receiver(struct check *c, struct probe_result *r)
{
	_cleanup_free_ char *action = NULL;
	int k;

	if (c->o->images_on_disk)
		return probe_set(r, PROBE_SKIP, NULL, "images go on disk (--images-on-disk)");
	if (!c->initrd)
		return probe_set(r, PROBE_SKIP, NULL, "needs an initrd");
	k = transport_initrd_has_carrier(c->initrd);
	if (k > 0)
		return probe_set(r, PROBE_OK, NULL, "%s holds kupgrade's initramfs script",
				 c->initrd);
	if (k == 0) {
		if (asprintf(&action,
			     "rebuild it with kupgrade installed ('update-initramfs -u -k "
			     "%s' or 'dracut -f --kver %s'), or use --images-on-disk",
			     c->have_image ? c->image.release : "VERSION",
			     c->have_image ? c->image.release : "VERSION") < 0)
			return -ENOMEM;
		return probe_set(r, PROBE_FAIL, action,
				 "%s lacks kupgrade's initramfs script: images sent in memory "
				 "would be lost at boot",
				 c->initrd);
	}
	return probe_set(r, PROBE_WARN, "install initramfs-tools or dracut to let check list it",
			 "cannot list %s (%s): not known whether it can receive images", c->initrd,
			 k == -EOPNOTSUPP ? "no lsinitramfs or lsinitrd" : strerror(-k));
}

int probe_kexec(struct check *c, struct probe_result *r)
{
	struct kexec_support s;
	const char *why = NULL;
	enum kexec_method m;
	int k;

	kexec_probe(&s);
	k = !!s.tool;
	kexec_support_done(&s); /* only the tool path is allocated */
	if (!k)
		return probe_set(r, PROBE_FAIL, "install the kexec-tools package",
				 "kexec-tools is not installed");
	k = kexec_choose_method(&s, false, &m, &why);
	if (k < 0)
		return probe_set(r, PROBE_FAIL, "reboot into the new kernel instead", "%s", why);
	if (c->have_image && kexec_image_acceptable(&s, &c->image, m, &why) < 0)
		return probe_set(r, PROBE_FAIL,
				 "use a kernel signed with a trusted key (Debian's are), or "
				 "reboot into it instead",
				 "%s", why);
	return probe_set(r, PROBE_OK, NULL, "%s (lockdown: %s, Secure Boot: %s)%s",
			 m == KEXEC_METHOD_FILE ? "kexec -s (kexec_file_load)"
						: "kexec -c (kexec_load)",
			 isempty(s.lockdown) ? "unknown" : s.lockdown,
			 s.secure_boot == 1   ? "on"
			 : s.secure_boot == 0 ? "off"
					      : "unknown",
			 s.loaded == 1 ? "; a kernel is loaded already and would be replaced" : "");
}
