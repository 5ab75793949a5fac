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
    '^tomograph$': '<rootDir>/index.ts',
    '^tomograph/express$': '<rootDir>/middleware/express.ts',
    '^tomograph/knex$': '<rootDir>/integrations/knex.ts',
    '^tomograph/http$': '<rootDir>/integrations/http.ts',
    '^tomograph/zipkin$': '<rootDir>/exporters/zipkin.ts',
    '^tomograph/statsd$': '<rootDir>/exporters/statsd.ts',
    '^tomograph/page$': '<rootDir>/middleware/trace-page.ts',
    '^tomograph/metrics$': '<rootDir>/lib/metrics/index.ts',
    '^tomograph/graphite$': '<rootDir>/exporters/graphite.ts',
    '^tomograph/prometheus$': '<rootDir>/exporters/prometheus.ts',
    '^tomograph/host-stats$': '<rootDir>/exporters/host-stats.ts',
    '^tomograph/amqplib$': '<rootDir>/integrations/amqplib.ts',
    '^tomograph/bullmq$': '<rootDir>/integrations/bullmq.ts',
    '^tomograph/pino$': '<rootDir>/integrations/pino.ts',
    '^tomograph/winston$': '<rootDir>/integrations/winston.ts',
  },
  // Tests start real servers and child processes; leave one core for them.
  maxWorkers: 2,
  testTimeout: 30000,
};
