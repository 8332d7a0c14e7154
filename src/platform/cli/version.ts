declare const EOL_GATE_VERSION: string | undefined;

/** package.json's version, put in by scripts/build.mjs; from source (tsx) there is no build. */
export const VERSION = typeof EOL_GATE_VERSION === 'string' ? EOL_GATE_VERSION : '0.0.0-source';
