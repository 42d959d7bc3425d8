/* An interrupt line sink. The PIC implements it for the VM; unit tests plug
 * in a fake. Devices raise and lower ISA lines through it; they never talk
 * to KVM directly, so an interrupt only reaches the guest when the run loop
 * injects it at an exit (DESIGN.md §3.1). */
#ifndef CC_DEVICES_IRQ_H
#define CC_DEVICES_IRQ_H

struct cc_irq_sink {
    void (*set_irq)(void *opaque, unsigned line, int level);
    void *opaque;
};

static inline void irq_set(const struct cc_irq_sink *s, unsigned line, int level)
{
    if (s->set_irq)
        s->set_irq(s->opaque, line, level);
}

#endif
