#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# dracut pre-pivot hook (sourced by dracut): only when kupgrade sent images.
if [ -d /kupgrade-images ]; then
	if [ -x /usr/lib/kupgrade/carry-images ]; then
		/usr/lib/kupgrade/carry-images
	else
		echo "kupgrade: images arrived but carry-images is missing from this initrd" >/dev/kmsg
	fi
fi
