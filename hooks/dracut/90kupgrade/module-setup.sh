#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# dracut module: carry kupgrade's checkpoint images, appended to the initrd,
# into a tmpfs on /run/kupgrade before the switch to the real root.

check() {
	[ -x /usr/lib/kupgrade/carry-images ] || return 1
	# Always include it when installed: any kernel may receive images.
	return 0
}

depends() {
	return 0
}

install() {
	inst_script /usr/lib/kupgrade/carry-images /usr/lib/kupgrade/carry-images
	inst_multiple cp stat chmod rm mkdir mount umount
	inst_hook pre-pivot 90 "$moddir/kupgrade-pre-pivot.sh"
}
