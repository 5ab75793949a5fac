/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', isolatedModules: true }],
  },
  // The package's own entry points, as examples and the demo import them, mapped to the sources.
  moduleNameMapper: {
    '^tomograph$': '<rootDir>/lib/index.ts',
    '^tomograph/express$': '<rootDir>/middleware/express.ts',
    '^tomograph/knex$': '<rootDir>/integrations/knex.ts',
    '^tomograph/http$': '<rootDir>/integrations/http.ts',
    '^tomograph/zipkin$': '<rootDir>/exporters/zipkin.ts',
    '^tomograph/statsd$': '<rootDir>/exporters/statsd.ts',
    '^tomograph/page$': '<rootDir>/middleware/trace-page.ts',
  },
  // Tests start real servers and child processes; leave one core for them.
  maxWorkers: 2,
  testTimeout: 30000,
};
