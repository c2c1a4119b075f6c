/** Thrown from the `default` branch of an exhaustive switch; `x: never` makes it a type error to forget a case. */
export class Unreachable extends Error {
  constructor(x: never) {
    super(`Unreachable case: ${JSON.stringify(x)}`);
    this.name = "Unreachable";
  }
}
