import { type ArgumentMetadata, BadRequestException, Injectable, type PipeTransform, applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';

/** PostgreSQL's `integer` (int4), the type of every id and cursor here: a larger number would fail in the database. */
export const MAX_DATABASE_INT = 2_147_483_647;

const DECIMAL = /^-?\d{1,20}$/;

/** A query-string or body integer within int4 and above `min`; only plain decimal digits count as a number (not `1e3`, `0x10`). */
export function IsDatabaseInt(min: number) {
  return applyDecorators(
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' && DECIMAL.test(value) ? Number(value) : value)),
    IsInt(),
    Min(min),
    Max(MAX_DATABASE_INT),
  );
}

/**
 * An id path parameter: 1 to 2147483647, or 400 before anything reaches the database. The global pipe may already
 * have turned the text into a number, so both forms are checked.
 */
@Injectable()
export class DatabaseIdPipe implements PipeTransform<string | number, number> {
  transform(value: string | number, metadata: ArgumentMetadata): number {
    const id = /^\d{1,10}$/.test(String(value)) ? Number(value) : Number.NaN;
    if (!(id >= 1 && id <= MAX_DATABASE_INT)) {
      throw new BadRequestException(`${metadata.data ?? 'id'} must be a whole number from 1 to ${MAX_DATABASE_INT}`);
    }
    return id;
  }
}
