// OpenSSL 3 libcrypto, for SM2 with SM3 (ride code v1). Only FaregateSM2 imports this module.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/rand.h>

// Selection macros built from other macros, which Swift does not import.
static inline int faregate_evp_pkey_public_key(void) { return EVP_PKEY_PUBLIC_KEY; }
static inline int faregate_evp_pkey_keypair(void) { return EVP_PKEY_KEYPAIR; }

// OSSL_PARAM_BLD keeps the key and string pointers it is given until OSSL_PARAM_BLD_to_param, so
// they must outlive the call that pushes them: these are C string literals (static storage),
// unlike the temporary C strings Swift makes from a String argument.
static inline const char *faregate_param_group_name(void) { return OSSL_PKEY_PARAM_GROUP_NAME; }
static inline const char *faregate_param_pub_key(void) { return OSSL_PKEY_PARAM_PUB_KEY; }
static inline const char *faregate_param_priv_key(void) { return OSSL_PKEY_PARAM_PRIV_KEY; }
static inline const char *faregate_group_sm2(void) { return SN_sm2; }
