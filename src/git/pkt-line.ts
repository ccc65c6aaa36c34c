// Written by hand: git's pkt-line framing is four hex digits of length and the payload; no
// maintained npm package parses the smart-HTTP ref advertisement without a whole git client.

/**
 * The refs of a smart-HTTP ref advertisement (`GET …/info/refs?service=git-upload-pack`, git's
 * protocol v0/v1, gitprotocol-http(5)): ref name → object id. Peeled tag entries (`^{}`) and the
 * capabilities of an empty repository are left out.
 */
export function parseRefAdvertisement(body: Buffer): Map<string, string> {
  const refs = new Map<string, string>();
  let offset = 0;
  let sawService = false;
  while (offset + 4 <= body.length) {
    const length = Number.parseInt(body.toString('ascii', offset, offset + 4), 16);
    if (!Number.isInteger(length) || (length !== 0 && length < 4) || offset + Math.max(length, 4) > body.length) {
      throw new Error(`malformed pkt-line at byte ${offset}`);
    }
    if (length === 0) {
      offset += 4;
      continue;
    }
    const line = body.toString('utf8', offset + 4, offset + length).replace(/\n$/, '');
    offset += length;
    if (!sawService && line.startsWith('# service=')) {
      sawService = true;
      continue;
    }
    const [ref] = line.split('\0');
    const match = /^([0-9a-f]{40,64}) (\S+)$/.exec(ref ?? '');
    if (!match) throw new Error(`unexpected ref line '${line.slice(0, 80)}'`);
    const [, id, name] = match;
    if (name!.endsWith('^{}') || name === 'capabilities^{}') continue;
    refs.set(name!, id!);
  }
  return refs;
}
