/* Runs a fuzz target over corpus files without libFuzzer, so that `make
 * check` replays every corpus with the ordinary compiler (and, in
 * check-asan, under the sanitizers).  Prints "N passed, 0 failed": a crash
 * ends the run instead. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
    int n = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (f == NULL) {
            perror(argv[i]);
            return 1;
        }
        uint8_t buf[65536];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, len);
        n++;
    }
    printf("fuzz replay: %d passed, 0 failed\n", n);
    return 0;
}
