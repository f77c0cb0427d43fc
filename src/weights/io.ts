// Whole-buffer file I/O on descriptors: fs.readSync / writeSync may move fewer bytes than asked
// (and at most ~2 GiB per call), so these loop until done.
import * as fs from 'node:fs';

const CHUNK = 1 << 30;

/** Reads a whole file into `dst`, which must be exactly its size. */
export function readFully(file: string, dst: Uint8Array, position = 0): void {
  const fd = fs.openSync(file, 'r');
  try {
    readFullyFd(fd, dst, position, file);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads `dst.length` bytes at `position`; a short file is reported as truncated. */
export function readFullyFd(fd: number, dst: Uint8Array, position: number, file: string): void {
  let done = 0;
  while (done < dst.length) {
    const n = fs.readSync(fd, dst, done, Math.min(CHUNK, dst.length - done), position + done);
    if (n === 0) throw new Error(`${file}: truncated (needed ${dst.length} bytes at offset ${position}, file ends after ${position + done})`);
    done += n;
  }
}

/** Writes all of `src` at the descriptor's current position. */
export function writeFully(fd: number, src: Uint8Array): void {
  let done = 0;
  while (done < src.length) done += fs.writeSync(fd, src, done, Math.min(CHUNK, src.length - done));
}
