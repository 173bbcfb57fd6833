import { execFileSync } from "node:child_process";
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./temp.ts";

/**
 * A small tmpfs, so a test can fill a disk for real. Mounting needs root (CI runs as root);
 * anywhere else the test fails at once saying so, rather than passing without the fault.
 */
export interface SmallDisk {
  /** The mount point: put a data directory under it. */
  readonly path: string;
  /** Writes a filler file until the disk has no space left; returns the bytes it took. */
  fill(): number;
  /** Deletes the filler: the space is back. */
  free(): void;
  /** Unmounts the disk and removes the mount point. */
  remove(): Promise<void>;
}

export async function mountSmallDisk(sizeBytes: number): Promise<SmallDisk> {
  if (process.getuid?.() !== 0) {
    throw new Error("this test mounts a tmpfs to fill a disk for real, and needs to run as root");
  }
  const dir = await tempDir("tandem-disk-");
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeBytes},mode=0755`, "tmpfs", dir.path]);
  const filler = join(dir.path, "filler");
  return {
    path: dir.path,
    fill: () => {
      const fd = openSync(filler, "a");
      let written = 0;
      try {
        // Big chunks first, then smaller ones, so the last page is used too.
        for (let chunk = 1 << 20; chunk >= 512; chunk >>= 1) {
          const bytes = Buffer.alloc(chunk, 0x55);
          for (;;) {
            try {
              written += writeSync(fd, bytes);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
              break;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      return written;
    },
    free: () => rmSync(filler, { force: true }),
    remove: async () => {
      execFileSync("umount", ["-l", dir.path]);
      await dir.remove();
    },
  };
}
