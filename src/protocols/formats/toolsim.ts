/** toolsim's own log (docs/log-format.md): each value already is a record. */
import { type Format, isObject, type NativeRecord, type Reader } from './format.js';

export const toolsim: Format = {
  name: 'toolsim',
  detect(value) {
    return isObject(value) && typeof value['tool'] === 'string';
  },
  reader(sink): Reader {
    return {
      value(value, line) {
        // parseRecordValue checks the shape and names what is wrong.
        sink.record(value as NativeRecord, line);
      },
      end() {},
    };
  },
};
