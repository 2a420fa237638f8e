#!/bin/sh
# mktone.sh — write one second of a sine tone as raw 8 kHz G.711 µ-law (no
# header), the format sipp's <exec rtp_stream="FILE,-1,0"/> loops as PCMU.
#
#   lab/sipp/mktone.sh HZ FILE      e.g. lab/sipp/mktone.sh 1300 /tmp/bob.ulaw
#
# Plain POSIX awk (mawk or gawk), no sox needed. Use a whole number of Hz so
# the one-second loop has no click. Level: about -12 dBFS.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 HZ FILE" >&2; exit 2; }
LC_ALL=C awk -v hz="$1" 'BEGIN {
	pi = atan2(0, -1)
	for (n = 0; n < 8000; n++) {
		s = int(8000 * sin(2 * pi * hz * n / 8000))
		# G.711 mu-law: sign, 3-bit exponent, 4-bit mantissa, all inverted.
		sign = 0
		if (s < 0) { sign = 128; s = -s }
		if (s > 32635) s = 32635
		s += 132
		e = 7
		while (e > 0 && s < 2 ^ (e + 7)) e--
		m = int(s / 2 ^ (e + 3)) % 16
		printf "%c", 255 - (sign + e * 16 + m)
	}
}' >"$2"
