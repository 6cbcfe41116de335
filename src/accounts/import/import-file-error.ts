/** A problem with the whole file: nothing is written when one is found. */
export class ImportFileError extends Error {
  constructor(message: string, readonly line?: number) {
    super(line ? `line ${line}: ${message}` : message);
  }
}
