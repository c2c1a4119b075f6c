/** A mistake in the command line (unknown command or flag, bad value): exit status 2. */
export class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/** Turns `node:util` parseArgs' errors into one line naming the command's help. */
export function usageErrorFrom(err: unknown, command: string): unknown {
  if (!(err instanceof TypeError) || !("code" in err)) return err;
  const help = `see "plane ${command} --help"`;
  const option = /'(-[^' ]+)/.exec(err.message)?.[1];
  const positional = /argument '([^']*)'/.exec(err.message)?.[1];
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return new UsageError(`Unknown flag ${option ?? ""} for "plane ${command}": ${help}`);
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return new UsageError(`Flag ${option ?? ""} of "plane ${command}" needs a value: ${help}`);
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return new UsageError(
        `Unexpected argument "${positional ?? ""}" for "plane ${command}": ${help}`,
      );
    default:
      return new UsageError(`${err.message}: ${help}`);
  }
}
