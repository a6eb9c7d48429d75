/** The errors alone, for callers that must not load the whole library to report one (the CLI's start-up). */
export * from '../errors.js'
