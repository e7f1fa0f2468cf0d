/** A free TCP port on 127.0.0.1: `preferred` when it is free, else any the system gives. */
import net from 'node:net';

export function freePort(preferred = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const any = () => {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const port = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(port));
      });
    };
    if (preferred === 0) return any();
    const srv = net.createServer();
    srv.once('error', any);
    srv.listen(preferred, '127.0.0.1', () => srv.close(() => resolve(preferred)));
  });
}
