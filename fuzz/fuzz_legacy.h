/* Input format of fuzz_legacy (see fuzz_legacy.c), shared with the corpus
 * generator (gen_corpus.c). */
#ifndef CC_FUZZ_LEGACY_H
#define CC_FUZZ_LEGACY_H

#include <stdint.h>

enum {
    LEG_WRITE = 0, LEG_READ, LEG_HOST_RX, LEG_INTA, LEG_IRQ, LEG_HLT, LEG_JUMP, LEG_SAVELOAD,
    LEG_LOADBAD, LEG_RTC_SHIFT, LEG_ECHO,
};

/* An operation's arg selects the port: leg_ports[arg % 32]. */
static const uint16_t leg_ports[32] = {
    0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x20, 0x21,
    0x40, 0x41, 0x42, 0x43, 0x61, 0x43, 0x40, 0x42,
    0x70, 0x71, 0x70, 0x71,
    0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff,
    0x22, 0x44, 0x72, 0x400,    /* next to the devices: unmapped */
};

/* The index of port in leg_ports (its first entry), -1 if absent. */
static inline int leg_port_index(uint16_t port)
{
    for (int i = 0; i < 32; i++)
        if (leg_ports[i] == port)
            return i;
    return -1;
}

#endif
