/* A stand-in for Windows' bcryptprimitives.dll, which Wine 8 (Debian 12's) lacks: Rust's
 * standard library takes its random bytes from its ProcessPrng. Built by contrib/wine/run with
 * mingw-w64 into the Wine prefix; never part of Keyport. */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) {
            return FALSE;
        }
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
