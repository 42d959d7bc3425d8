/* The oracle's state as bytes, for simulation snapshots (src/sim). Not
 * public: the format is the library's own (util/buf.h). */
#ifndef CC_SDK_HOST_ORACLE_H
#define CC_SDK_HOST_ORACLE_H

#include "chaoscontrol/sdk_host.h"
#include "util/buf.h"

void oracle_save(const struct cc_oracle *o, struct cc_buf *out);
int oracle_load(struct cc_oracle *o, struct cc_rd *in, struct cc_err *err);

#endif
