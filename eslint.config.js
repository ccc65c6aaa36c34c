import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers point one way: transport → api (with resources, auth, iam beside it) → engine → store,
 * with the shared vocabulary in common/ (and generated protos in gen/) at the bottom. Each entry
 * names the folders a layer must not import from.
 */
const LAYERS = {
  common: ['api', 'auth', 'cli', 'engine', 'faults', 'iam', 'metrics', 'proto', 'resources', 'store', 'transport'],
  store: ['api', 'auth', 'cli', 'engine', 'faults', 'iam', 'metrics', 'resources', 'transport'],
  engine: ['api', 'auth', 'cli', 'faults', 'iam', 'metrics', 'resources', 'transport'],
  auth: ['api', 'cli', 'engine', 'faults', 'metrics', 'resources', 'transport'],
  iam: ['api', 'cli', 'engine', 'faults', 'metrics', 'resources', 'transport'],
  api: ['cli', 'faults', 'metrics', 'resources', 'transport'],
  resources: ['cli', 'faults', 'metrics', 'transport'],
  transport: ['cli', 'engine', 'faults', 'metrics', 'resources', 'store'],
  // Beside the layers: it implements their observer interfaces (and only it knows prom-client).
  metrics: ['api', 'auth', 'cli', 'faults', 'iam', 'resources'],
  // Beside the layers: it decorates the method table and the engine through their hooks (CallFaults, wrapHandler).
  faults: ['cli', 'console', 'metrics', 'resources', 'store'],
};

const layerRules = Object.entries(LAYERS).map(([layer, forbidden]) => ({
  files: [`src/${layer}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            regex: `^(\\.\\./)+(${forbidden.join('|')})/`,
            message: `src/${layer} must not import from ${forbidden.join(', ')}: the layers point one way (transport → api → engine → store; common at the bottom).`,
          },
        ],
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['dist/', 'src/gen/', 'node_modules/', '.devconnect-emulator/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setImmediate: 'readonly', URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...layerRules,
);
