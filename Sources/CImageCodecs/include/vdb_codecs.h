#ifndef VDB_CODECS_H
#define VDB_CODECS_H
/* JPEG/PNG decoding for vdb (owned by the CLIP image-preprocessing work). */
int vdb_codecs_version(void);
#endif
