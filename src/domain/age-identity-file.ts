/**
 * The environment variable that names restore's age identity file. Here, in neither the command
 * line nor the age adapter, because both name it: the command line reads it, the adapter's note for
 * a copy restored without an identity tells the person to set it.
 */
export const AGE_IDENTITY_FILE_ENV = "AGE_IDENTITY_FILE";
