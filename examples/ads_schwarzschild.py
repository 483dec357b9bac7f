"""Recover the AdS4 black-hole metric h(η) = 3 coth(3η) from data, as a deep network (HSTT1).

The boundary values (φ, π) of a bulk scalar are labelled by whether the black-hole metric lets them
end regularly at the horizon; a 10-layer network whose weights are h(η_n) learns the metric back.

    python examples/ads_schwarzschild.py            # ~10 s on 2 cores; writes ads_schwarzschild_example.png
"""

import numpy as np

import nqs.ads as ads
from nqs.ads import network, train
from nqs.ads.plot import plot_schwarzschild

net = ads.SCHWARZSCHILD                      # d = 3, m² = −1, λ = 1, 10 layers from η = 1 to 0.1
data = ads.schwarzschild_data(seed=0)         # 1000 positive + 1000 negative (φ, π)
held_out = ads.schwarzschild_data(seed=(0, 1))
recipe = ads.SCHWARZSCHILD_RECIPE._replace(epochs=1000)
result = train.train(net, data, recipe, seeds=[0, 1, 2, 3])   # four seeds in one vmapped program

h_true = ads.schwarzschild_h(net.etas)
h = result.params["h"]
for eta, hm, ht in zip(net.etas, h.mean(0), h_true):
    print(f"η = {eta:.2f}   learned h = {hm:6.3f}   3coth(3η) = {ht:6.3f}   {abs(hm / ht - 1):6.1%}")
acc = [network.accuracy(net, {"h": row}, held_out.x, held_out.y) for row in h]
print(f"held-out accuracy {np.mean(acc):.2%}; {result.seconds_per_epoch * 1e3:.1f} ms per epoch for 4 seeds")
plot_schwarzschild(net.etas, h, ads.schwarzschild_h, result.history, "ads_schwarzschild_example.png")
