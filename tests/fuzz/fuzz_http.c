/*
 * fuzz_http: raw bytes as one client connection's whole input, through the real path
 * bytes -> HTTP parser -> router -> handler -> commit pipeline -> answer, against the
 * seeded temporary LMDB (harness.h). Pipelined requests, smuggling shapes and writes all
 * happen; every answer is checked by fuzz_check_answers.
 */
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_server(0);
    fuzz_feed((const char *)data, size);
    return 0;
}
