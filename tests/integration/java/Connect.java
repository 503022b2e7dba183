// java -cp DIR Connect NAME PORT COUNT
// COUNT times: the first address InetAddress.getAllByName gives, and
// Socket.connect(addr, 3000): one address, non-blocking with a timeout,
// as Java programs connect.  Per connect "ms=N" (connect alone), then the
// server's first line; on failure "error <exception>" and exit 1.
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;

public class Connect {
    public static void main(String[] args) throws Exception {
        String name = args[0];
        int port = Integer.parseInt(args[1]);
        int count = Integer.parseInt(args[2]);
        for (int i = 0; i < count; i++) {
            InetAddress addr = InetAddress.getAllByName(name)[0];
            long t = System.nanoTime();
            Socket s = new Socket();
            try {
                s.connect(new InetSocketAddress(addr, port), 3000);
            } catch (IOException e) {
                System.out.println("ms=" + (System.nanoTime() - t) / 1000000);
                System.out.println("error " + e);
                System.exit(1);
            }
            System.out.println("ms=" + (System.nanoTime() - t) / 1000000);
            BufferedReader r = new BufferedReader(new InputStreamReader(s.getInputStream()));
            System.out.println(r.readLine());
            s.close();
        }
    }
}
