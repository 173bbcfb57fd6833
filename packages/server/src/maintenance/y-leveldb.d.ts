// y-leveldb ships types, but its package.json "exports" does not point at them, so TypeScript
// cannot find them under NodeNext resolution. The part `tandem import --from y-leveldb` uses:
declare module "y-leveldb" {
  import type * as Y from "yjs";
  export class LeveldbPersistence {
    constructor(location: string, options?: { Level?: unknown; levelOptions?: object });
    getAllDocNames(): Promise<string[]>;
    getYDoc(name: string): Promise<Y.Doc>;
    destroy(): Promise<void>;
  }
}
