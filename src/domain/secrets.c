/*
 * Secrets: generation from the kernel's CSPRNG, SHA-256 hashing, and the DB_SECRETS table.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "regulars/error.h"
#include "regulars/secrets.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Unpadded base64url of n bytes into out (4 * n / 3 rounded up chars, no NUL). */
static size_t encode_b64url(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        out[o++] = b64url[v >> 6 & 63];
        out[o++] = b64url[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        out[o++] = b64url[v >> 6 & 63];
    }
    return o;
}

int secrets_generate(const char *prefix, char *out, size_t outsz)
{
    unsigned char rnd[32];
    size_t plen = strlen(prefix);
    if (plen > SECRETS_PREFIX_MAX || outsz < plen + SECRETS_RANDOM_CHARS + 1)
        return RG_ETOOBIG;
    /* getrandom blocks only until the pool is first initialised and never returns short
     * for 32 bytes; the loop is for EINTR. */
    size_t got = 0;
    while (got < sizeof(rnd)) {
        ssize_t r = getrandom(rnd + got, sizeof(rnd) - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return RG_EIO;
        }
        got += (size_t)r;
    }
    memcpy(out, prefix, plen);
    size_t n = encode_b64url(rnd, sizeof(rnd), out + plen);
    out[plen + n] = '\0';
    OPENSSL_cleanse(rnd, sizeof(rnd));
    return 0;
}

/* OpenSSL 3's one-shot SHA256() looks the algorithm up again on every call (EVP_Q_digest),
 * which cost four times the hash itself on every authenticated request. The algorithm is
 * fetched once per process and each thread keeps one digest context (freed when the thread
 * ends), so a hash is one init, update and final: about 130 ns instead of 530. */
static EVP_MD *sha256_md;
static pthread_key_t sha256_key;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_ctx_free(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void sha256_setup(void)
{
    if (pthread_key_create(&sha256_key, sha256_ctx_free) == 0)
        sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void secrets_hash(const char *secret, size_t len, unsigned char out[32])
{
    pthread_once(&sha256_once, sha256_setup);
    EVP_MD_CTX *ctx = sha256_md ? pthread_getspecific(sha256_key) : NULL;
    if (sha256_md && !ctx && (ctx = EVP_MD_CTX_new()) && pthread_setspecific(sha256_key, ctx)) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    unsigned n = 0;
    if (ctx && EVP_DigestInit_ex2(ctx, sha256_md, NULL) && EVP_DigestUpdate(ctx, secret, len) &&
        EVP_DigestFinal_ex(ctx, out, &n) && n == 32)
        return;
    /* Without a context (out of memory) the slow path gives the same digest. */
    SHA256((const unsigned char *)secret, len, out);
}

int secrets_put(struct store_tx *tx, const unsigned char hash[32], int kind, uint64_t id)
{
    struct rg_secret rec;
    memset(&rec, 0, sizeof(rec));
    rec.kind = (uint32_t)kind;
    rec.id = id;
    memcpy(rec.hash, hash, 32);
    struct skey k;
    skey_reset(&k);
    skey_bytes(&k, hash, 32);
    return store_put(tx, DB_SECRETS, &k, &rec, sizeof(rec), MDB_NOOVERWRITE);
}

int secrets_lookup(struct store_tx *tx, const unsigned char hash[32], struct rg_secret *out)
{
    struct skey k;
    skey_reset(&k);
    skey_bytes(&k, hash, 32);
    struct rg_secret rec;
    int rc = store_get_rec(tx, DB_SECRETS, &k, &rec, sizeof(rec));
    if (rc == RG_ENOTFOUND)
        return RG_EUNAUTHORIZED;
    if (rc)
        return rc;
    /* The key match was a plain memcmp inside LMDB's B-tree search; the stored copy is
     * checked again in constant time so that the final accept/reject does not depend on
     * how many leading bytes matched. */
    if (CRYPTO_memcmp(rec.hash, hash, 32) != 0)
        return RG_EUNAUTHORIZED;
    *out = rec;
    return 0;
}
