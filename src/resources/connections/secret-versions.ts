import type { DescMessage, Message } from '@bufbuild/protobuf';
import { reflect, type ReflectMessage } from '@bufbuild/protobuf/reflect';
import { ApiError } from '../../common/errors.js';
import { SECRET_VERSION } from '../../api/secrets.js';

/**
 * Every `*_secret_version` field set anywhere in a message must name a Secret Manager secret
 * version (`projects/P/secrets/S/versions/V`, or regional), as Developer Connect checks them;
 * INVALID_ARGUMENT naming the field's path otherwise.
 */
export function checkSecretVersions(desc: DescMessage, message: Message, prefix: string): void {
  walk(reflect(desc, message), prefix);
}

function walk(message: ReflectMessage, path: string): void {
  for (const field of message.fields) {
    if (!message.isSet(field)) continue;
    const here = `${path}.${field.name}`;
    if (field.fieldKind === 'scalar' && field.name.endsWith('_secret_version')) {
      const value = message.get(field);
      if (typeof value === 'string' && !SECRET_VERSION.test(value)) {
        throw ApiError.badField(here, `${here} '${value}' is not a secret version: use projects/PROJECT/secrets/SECRET/versions/VERSION.`);
      }
    } else if (field.fieldKind === 'message') {
      walk(message.get(field) as ReflectMessage, here);
    }
  }
}
