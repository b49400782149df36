#include "vdb_codecs.h"
int vdb_codecs_version(void) { return 1; }
