#!/bin/sh
# The "server" of the composer test (tests/linux/composer.sh), the image's
# main command: ready after a moment (cc.setup_wait polls for its file),
# then serving until the template's eventually_ command asks it to stop.
sleep 0.5
echo "server: ready on $CC_NAME"
: > /tmp/server-ready
while [ ! -e /tmp/server-stop ]; do
  sleep 0.1
done
echo "server: stopping"
